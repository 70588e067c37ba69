from gaitprep.cli import main

main()
