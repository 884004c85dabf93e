// PushSenders: APNs, FCM and generic HTTP senders.
