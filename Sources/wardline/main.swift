print("wardline: not built yet")
