package com.example;

import java.util.List;

/** A bank account. */
public class Account {
    private long balance;

    public Account(long initial) {
        this.balance = initial;
    }

    @Override
    public String toString() {
        return "Account(" + balance + ")";
    }

    interface Listener {
        void onChange(long value);
    }

    enum Kind {
        CHECKING, SAVINGS;

        boolean isSavings() {
            return this == SAVINGS;
        }
    }
}
