print("wardline-bench: not built yet")
