"""Thin audience routers: parse, call one service function, shape the answer."""
