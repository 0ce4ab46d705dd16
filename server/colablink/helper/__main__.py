from colablink.helper.main import main

raise SystemExit(main())
