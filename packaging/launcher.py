"""The frozen app's entry point: the `folio` command (the window when given no command)."""

import multiprocessing

if __name__ == "__main__":
    # Parser worker processes start by re-running this executable; this lets them become
    # workers instead of a second Folio.
    multiprocessing.freeze_support()
    from desktop.cli import main

    raise SystemExit(main())
