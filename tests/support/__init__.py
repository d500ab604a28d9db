"""Helpers imported by test subprocesses (e.g. `dramatiq tests.support.broker_actors`)."""
