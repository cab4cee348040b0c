"""Tools: LangChain tools and the local models behind them."""
