"""MedGraph's HTTP server: the LangGraph Server API subset that `langgraph-sdk` uses, on FastAPI."""
