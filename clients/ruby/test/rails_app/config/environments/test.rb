# config/environments/test.rb -- the environment clients.ruby_rails_testmode runs in (herald.yml: test_mode).
Rails.application.configure do
  config.action_controller.perform_caching = false
  config.action_dispatch.show_exceptions = false
end
