from colablink.cli.main import main

raise SystemExit(main())
