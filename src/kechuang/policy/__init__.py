"""Policy benefits without application (免申即享): rules as code, engine, library."""
