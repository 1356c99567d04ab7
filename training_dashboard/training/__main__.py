from training_dashboard.training.cli import main

raise SystemExit(main())
