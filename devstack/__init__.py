"""Parley's dev runner and test infrastructure: starts Redis, MongoDB and Parley's processes.

Standard library only and Python 3.10-compatible, because the test fixtures use it from both
environments. It never imports the MongoDB-compatible server: it runs it as a separate process.
"""
from devstack.ports import free_port, port_open, wait_for_port
from devstack.processes import Supervisor
from devstack.stores import start_mongo, start_redis

__all__ = ["Supervisor", "free_port", "port_open", "start_mongo", "start_redis", "wait_for_port"]
