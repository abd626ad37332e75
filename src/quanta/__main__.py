"""``python -m quanta`` runs the ``quanta`` command."""

from quanta.cli.main import main

if __name__ == "__main__":
    main()
