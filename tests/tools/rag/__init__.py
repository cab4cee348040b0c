"""Tests of the documents (RAG) tools."""
