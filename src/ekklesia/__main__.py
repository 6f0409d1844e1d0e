from ekklesia.cli import main

main()
