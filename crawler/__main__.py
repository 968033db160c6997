"""Allow ``python -m crawler`` as an alias of the ``beatwatch`` console script."""

from crawler.cli import main

if __name__ == "__main__":
    main()
