from gaitmodels.cli import main

main()
