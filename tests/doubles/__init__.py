"""Protocol-faithful doubles of Asterisk (ARI server, FastAGI peer) for tests, demos and the benchmark."""
