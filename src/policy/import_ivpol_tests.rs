use super::super::import::import_policies;
