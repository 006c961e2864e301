"""Real-data tooling for vecmap: numpy MiniLM embedder and ANN dataset builder."""
