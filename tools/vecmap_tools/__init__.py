"""vecmap command-line tools: the demo and the benchmark."""
