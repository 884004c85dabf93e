// PushSandbox: loopback push-provider servers for tests and `pushfleet dev`.
