"""Built-in cells; each module registers itself with @cell_register."""
