"""`engagebot demo` (being split into stand-ins, driver and run; these names move with it)."""

from adapters.demo.driver import run_demo, simulate

__all__ = ["run_demo", "simulate"]
