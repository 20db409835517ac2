# config/environments/live.rb -- the fixture app served by bin/serve, the gem in normal mode (herald.yml: live).
Rails.application.configure do
  config.action_controller.perform_caching = false
  config.log_level = :info # a failing action's backtrace is in the log the test prints
end
