print("crynux")
