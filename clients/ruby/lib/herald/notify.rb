# herald/notify.rb -- what Bundler.require loads for `gem "herald-notify"` (it tries herald/notify): the gem itself.
require_relative "../herald"
