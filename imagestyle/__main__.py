"""``python -m imagestyle``: the same as the ``imagestyle`` command."""

if __name__ == "__main__":
    import sys

    from imagestyle.cli import main

    sys.exit(main())
