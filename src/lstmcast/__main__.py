"""``python -m lstmcast``: the same command line as the ``lstmcast`` script."""

from lstmcast.cli import main

if __name__ == "__main__":
    main()
