"""LeRobot interop without Django: LeRobotDataset v3.0 folders written from our recordings
(`core.lerobot.dataset_write`) and read back for import (`core.lerobot.dataset_read`)."""
