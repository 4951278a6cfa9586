export const message = 'Hello from your preview'
