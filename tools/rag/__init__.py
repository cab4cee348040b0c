"""Documents (RAG): loaders, chunking, the Milvus chunk store, hybrid retrieval, citations."""
