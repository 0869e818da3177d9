"""A first program for the example environment: `python3 hello_world.py`."""

import sys


def main() -> None:
    print(f"Hello, world, from Python {sys.version.split()[0]}!")


if __name__ == "__main__":
    main()
