"""`python -m alphatrader`: the same command as the `alphatrader` script."""

from alphatrader.cli import main

if __name__ == "__main__":
    main()
