"""Work intake does on its own: the import worker."""
