"""`folio bench`: speed figures, each beside the naive way measured in the same run (the
measuring wing; the product never imports it)."""
