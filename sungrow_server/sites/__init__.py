"""Sites: several inverters read as one (a roof with two inverters). Their rows and the
`site` commands; the /v1 views read them through the token store's snapshot."""
