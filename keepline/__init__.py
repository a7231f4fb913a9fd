"""keepline: communications retention. The command line lives in keepline.cli."""
