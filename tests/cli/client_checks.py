"""Check bookkeeping shared by the Python protocol clients of tests/cli/: one line per check,
and the exit status their C++ tests read (0 = every check passed, 1 = a check failed)."""
import os

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def finish():
    """Prints the summary the C++ tests look for; returns the exit status."""
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
