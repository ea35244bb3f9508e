"""Sanic routes: thin translations between HTTP and the framework-free core."""
