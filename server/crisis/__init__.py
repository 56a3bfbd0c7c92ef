"""crisis"""
