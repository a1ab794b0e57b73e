"""Solutions to the catalogue's exercises (notebook 11)."""


def solve_11_1():
    # at x: −1 from f, +1 through y = w·b + x: 0, flipped 0; y's own path: ∂f/∂y · b = 2
    return 2.0


def solve_11_2():
    # gx = 0 (the total at x), gy = 1: through y = w·b + x, w gets b + a = 3
    return 3.0
