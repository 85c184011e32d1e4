from understudy_trainer.cli import main

raise SystemExit(main())
