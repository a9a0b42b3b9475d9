#include <stdio.h>

struct node {
    int value;
    struct node *next;
};

typedef struct {
    int x, y;
} point_t;

/* Sums a list. */
static int sum(const struct node *n) {
    int s = 0;
    for (; n; n = n->next) s += n->value;
    return s;
}

int *find(int *xs, int n, int v) {
    for (int i = 0; i < n; i++)
        if (xs[i] == v) return &xs[i];
    return NULL;
}
