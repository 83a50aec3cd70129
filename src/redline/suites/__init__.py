"""The suite registry and dataset loaders: BFCL data, xLAM, the regression sets (no generation
code, no run folders)."""
