// parley-agent: placeholder until the agent lands.
print("parley-agent")
