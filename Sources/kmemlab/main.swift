print("kmemlab")
