"""What each notebook's quick run must have found: one module per notebook, `check(payload)`."""
