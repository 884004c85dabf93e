// PushPolicy: pure Flexisip decisions. See the module files.
