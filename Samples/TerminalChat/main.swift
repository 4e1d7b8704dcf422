// parley-chat: a terminal chat client. See README.md beside this file.
ChatCommandLine.main()
