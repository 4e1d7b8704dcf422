// parley-chat: placeholder until the chat client lands.
print("parley-chat")
